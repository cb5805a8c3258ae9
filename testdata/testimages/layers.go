package main

import (
	"fmt"
	"strconv"
	"strings"
)

// uidWWWData is www-data in Debian and in the base image's /etc/passwd.
const uidWWWData = 33

// artifacts are the built and downloaded things layers are cut from.
type artifacts struct {
	Busybox *busybox
	Pause   []byte            // static logbook-pause
	NNP     []byte            // static setuid probe
	Debs    fsIndex           // the nginx packages, unpacked in memory
	Files   map[string][]byte // testdata/images, by relative path
}

func (a *artifacts) file(name string) ([]byte, error) {
	b, ok := a.Files[name]
	if !ok {
		return nil, fmt.Errorf("%w: testdata/images/%s is missing", ErrBadEntry, name)
	}
	return b, nil
}

// imageFiles are the files of testdata/images the layers read.
func imageFiles() []string {
	return []string{
		"rootfs/passwd", "rootfs/group", "rootfs/nsswitch.conf",
		"nginx/nginx.conf.in", "nginx/index.html",
		"httpd/httpd-foreground", "httpd/index.html",
	}
}

// layerEntries returns the content of the named layer. It is pure: every
// byte comes from the artifacts.
func layerEntries(name string, a *artifacts) ([]entry, error) {
	switch {
	case name == layerBase:
		return baseEntries(a)
	case name == layerNginx:
		return nginxEntries(a)
	case name == layerNginx80:
		return nginxConfEntries(a, 80)
	case name == layerNginx12003:
		return nginxConfEntries(a, 12003)
	case name == layerHttpd:
		script, err := a.file("httpd/httpd-foreground")
		if err != nil {
			return nil, err
		}
		page, err := a.file("httpd/index.html")
		if err != nil {
			return nil, err
		}
		return []entry{
			fileEntry("usr/local/bin/httpd-foreground", 0o755, script),
			fileEntry("usr/local/apache2/htdocs/index.html", 0o644, page),
		}, nil
	case name == layerNNP:
		if len(a.NNP) == 0 {
			return nil, fmt.Errorf("%w: nnp was not built", ErrBadEntry)
		}
		// Setuid root: the whole point of the image.
		return []entry{fileEntry("usr/local/bin/nnp", 0o755|modeSetuid, a.NNP)}, nil
	case name == layerPause:
		if len(a.Pause) == 0 {
			return nil, fmt.Errorf("%w: logbook-pause was not built", ErrBadEntry)
		}
		return []entry{fileEntry("pause", 0o755, a.Pause)}, nil
	case name == layerPredefined:
		return predefinedGroupEntries(a)
	case strings.HasPrefix(name, markerPrefix):
		return []entry{fileEntry(strings.TrimPrefix(name, markerPrefix), 0o644, []byte{})}, nil
	case strings.HasPrefix(name, benchPrefix):
		n, err := strconv.Atoi(strings.TrimPrefix(name, benchPrefix))
		if err != nil {
			return nil, fmt.Errorf("%w: layer %q", ErrBadEntry, name)
		}
		var out []entry
		for f := 0; f < benchFiles; f++ {
			out = append(out, fileEntry(fmt.Sprintf("bench/layer-%d/file-%d", n, f), 0o644, benchData(n, f, benchFileSize)))
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown layer %q", ErrBadEntry, name)
}

// baseEntries is the busybox root file system: the static binary once, every
// applet as a hard link to it in /bin (so masking /bin/ls masks ls alone and
// `sh -c ls` execs /bin/ls), the users and groups, and the usual directories.
func baseEntries(a *artifacts) ([]entry, error) {
	if a.Busybox == nil {
		return nil, fmt.Errorf("%w: busybox was not built", ErrBadEntry)
	}
	passwd, err := a.file("rootfs/passwd")
	if err != nil {
		return nil, err
	}
	group, err := a.file("rootfs/group")
	if err != nil {
		return nil, err
	}
	out := []entry{
		dirEntry("bin", 0o755), dirEntry("dev", 0o755), dirEntry("etc", 0o755),
		dirEntry("home", 0o755), dirEntry("proc", 0o555), dirEntry("root", 0o700),
		dirEntry("sys", 0o555), dirEntry("tmp", 0o777|modeSticky),
		dirEntry("usr", 0o755), dirEntry("usr/bin", 0o755), dirEntry("usr/sbin", 0o755),
		dirEntry("usr/local/bin", 0o755), dirEntry("var", 0o755),
		dirEntry("var/tmp", 0o777|modeSticky), dirEntry("var/spool/mail", 0o755),
		dirEntry("var/www", 0o755),
		fileEntry("etc/passwd", 0o644, passwd),
		fileEntry("etc/group", 0o644, group),
	}
	bb := fileEntry("bin/busybox", 0o755, a.Busybox.Binary)
	bb.LinkGroup = "busybox"
	out = append(out, bb)
	for _, applet := range a.Busybox.Applets {
		if strings.Contains(applet, "/") || applet == "busybox" {
			continue
		}
		out = append(out, entry{Path: "bin/" + applet, Kind: kindFile, LinkGroup: "busybox"})
	}
	return out, nil
}

// nginxEntries is Debian's nginx: the binary, the libraries its ELF headers
// name (resolved in the pinned packages), mime.types, a page, and the
// directories nginx writes to.
func nginxEntries(a *artifacts) ([]entry, error) {
	if len(a.Debs) == 0 {
		return nil, fmt.Errorf("%w: the nginx packages were not read", ErrBadEntry)
	}
	paths, err := libraryClosure(a.Debs, []string{"usr/sbin/nginx"},
		[]string{"lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib", "usr/lib"}, readELFDeps)
	if err != nil {
		return nil, err
	}
	paths = append(paths, "etc/nginx/mime.types")
	var out []entry
	for _, p := range paths {
		e, err := entryFromDeb(a.Debs, p)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	page, err := a.file("nginx/index.html")
	if err != nil {
		return nil, err
	}
	nss, err := a.file("rootfs/nsswitch.conf")
	if err != nil {
		return nil, err
	}
	out = append(out,
		fileEntry("usr/share/nginx/html/index.html", 0o644, page),
		fileEntry("etc/nsswitch.conf", 0o644, nss),
		dirEntry("var/lib/nginx", 0o755),
		dirEntry("var/log/nginx", 0o755),
		dirEntry("var/run", 0o755),
		dirEntry("run", 0o755),
	)
	// nginx creates its temp directories 0700 for its worker user at start;
	// shipping them that way spares it a chown.
	for _, d := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		out = append(out, dirEntry("var/lib/nginx/"+d, 0o700).owned(uidWWWData, 0))
	}
	return out, nil
}

func nginxConfEntries(a *artifacts, port int) ([]entry, error) {
	tmpl, err := a.file("nginx/nginx.conf.in")
	if err != nil {
		return nil, err
	}
	if !strings.Contains(string(tmpl), "@PORT@") {
		return nil, fmt.Errorf("%w: nginx.conf.in has no @PORT@", ErrBadEntry)
	}
	conf := strings.ReplaceAll(string(tmpl), "@PORT@", strconv.Itoa(port))
	return []entry{fileEntry("etc/nginx/nginx.conf", 0o644, []byte(conf))}, nil
}

// predefinedGroupEntries reproduces upstream's
//
//	adduser -u 1000 -D default-user
//	addgroup -g 50000 group-defined-in-image
//	addgroup default-user group-defined-in-image
//
// on top of the base /etc/passwd and /etc/group.
func predefinedGroupEntries(a *artifacts) ([]entry, error) {
	passwd, err := a.file("rootfs/passwd")
	if err != nil {
		return nil, err
	}
	group, err := a.file("rootfs/group")
	if err != nil {
		return nil, err
	}
	passwd = appendLines(passwd, "default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh")
	group = appendLines(group, "default-user:x:1000:", "group-defined-in-image:x:50000:default-user")
	return []entry{
		fileEntry("etc/passwd", 0o644, passwd),
		fileEntry("etc/group", 0o644, group),
		dirEntry("home/default-user", 0o755).owned(1000, 1000),
	}, nil
}

func appendLines(b []byte, lines ...string) []byte {
	s := string(b)
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return []byte(s + strings.Join(lines, "\n") + "\n")
}
