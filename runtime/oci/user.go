package oci

import (
	"math"
	"slices"
	"strconv"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PasswdEntry is one line of an /etc/passwd file.
type PasswdEntry struct {
	Name  string
	UID   uint32
	GID   uint32
	Home  string
	Shell string
}

// GroupEntry is one line of an /etc/group file.
type GroupEntry struct {
	Name    string
	GID     uint32
	Members []string
}

// ParsePasswd reads an /etc/passwd file ("name:password:uid:gid:gecos:home:shell").
// Comments, blank lines, NIS "+"/"-" entries and lines whose ids do not
// parse are skipped rather than guessed at: an image's file is data, not
// something to fail a container over unless the user it needs is missing.
func ParsePasswd(data []byte) []PasswdEntry {
	var out []PasswdEntry
	for _, line := range fileLines(data) {
		f := strings.Split(line, ":")
		if len(f) < 4 || f[0] == "" {
			continue
		}
		uid, ok1 := parseID(f[2])
		gid, ok2 := parseID(f[3])
		if !ok1 || !ok2 {
			continue
		}
		e := PasswdEntry{Name: f[0], UID: uid, GID: gid}
		if len(f) > 5 {
			e.Home = f[5]
		}
		if len(f) > 6 {
			e.Shell = f[6]
		}
		out = append(out, e)
	}
	return out
}

// ParseGroup reads an /etc/group file ("name:password:gid:member,member"),
// skipping what ParsePasswd skips.
func ParseGroup(data []byte) []GroupEntry {
	var out []GroupEntry
	for _, line := range fileLines(data) {
		f := strings.Split(line, ":")
		if len(f) < 3 || f[0] == "" {
			continue
		}
		gid, ok := parseID(f[2])
		if !ok {
			continue
		}
		e := GroupEntry{Name: f[0], GID: gid}
		if len(f) > 3 {
			for _, m := range strings.Split(f[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					e.Members = append(e.Members, m)
				}
			}
		}
		out = append(out, e)
	}
	return out
}

func fileLines(data []byte) []string {
	var lines []string
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		lines = append(lines, line)
	}
	return lines
}

// parseID parses a uid or gid: a decimal below 2^32-1 ((uid_t)-1 means "no
// id" to the kernel).
func parseID(s string) (uint32, bool) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || v == math.MaxUint32 {
		return 0, false
	}
	return uint32(v), true
}

func lookupUserByName(users []PasswdEntry, name string) (PasswdEntry, bool) {
	for _, u := range users {
		if u.Name == name {
			return u, true
		}
	}
	return PasswdEntry{}, false
}

func lookupUserByID(users []PasswdEntry, uid uint32) (PasswdEntry, bool) {
	for _, u := range users {
		if u.UID == uid {
			return u, true
		}
	}
	return PasswdEntry{}, false
}

func lookupGroupByName(groups []GroupEntry, name string) (GroupEntry, bool) {
	for _, g := range groups {
		if g.Name == name {
			return g, true
		}
	}
	return GroupEntry{}, false
}

// ResolveUser computes the identity of a container's first process from its
// security context and its image. The precedence, as kubelets and
// containerd have it:
//
//   - run_as_username (looked up in the image's /etc/passwd, which must have
//     it) or run_as_user (a uid, whose passwd entry, if any, gives the
//     primary gid) replace the image's USER whole, group part included;
//   - otherwise the image's USER: "", "uid", "name", "uid:gid", "name:group",
//     "uid:group" or "name:gid"; names must resolve, bare uids need not;
//   - run_as_group, which needs one of the two run_as_ fields, replaces the
//     primary gid;
//   - supplemental groups: under policy Merge, the groups of the image's
//     /etc/group that list the user's name, plus the requested ones; under
//     Strict only the requested ones. The primary gid is always among them.
//
// A nil security context means "the image decides".
func ResolveUser(sc *runtimeapi.LinuxContainerSecurityContext, img Image) (User, error) {
	var (
		users  = ParsePasswd(img.Passwd)
		groups = ParseGroup(img.Group)
		u      User
	)
	runAsUser, runAsName, runAsGroup := sc.GetRunAsUser(), sc.GetRunAsUsername(), sc.GetRunAsGroup()
	if runAsGroup != nil && runAsUser == nil && runAsName == "" {
		return User{}, invalidf("linux.security_context.run_as_group is set without run_as_user or run_as_username")
	}
	if runAsUser != nil && runAsName != "" {
		return User{}, invalidf("linux.security_context: run_as_user and run_as_username are both set")
	}
	switch {
	case runAsName != "":
		e, ok := lookupUserByName(users, runAsName)
		if !ok {
			return User{}, invalidf("linux.security_context.run_as_username %q: %w", runAsName, ErrUnknownUser)
		}
		u = User{UID: e.UID, GID: e.GID, Name: e.Name}
	case runAsUser != nil:
		uid, ok := int64ID(runAsUser.GetValue())
		if !ok {
			return User{}, invalidf("linux.security_context.run_as_user %d is not a valid uid", runAsUser.GetValue())
		}
		u = userByID(users, uid)
	default:
		var err error
		if u, err = imageUser(img.Config.User, users, groups); err != nil {
			return User{}, err
		}
	}
	if runAsGroup != nil {
		gid, ok := int64ID(runAsGroup.GetValue())
		if !ok {
			return User{}, invalidf("linux.security_context.run_as_group %d is not a valid gid", runAsGroup.GetValue())
		}
		u.GID = gid
	}

	set := []uint32{u.GID}
	for i, g := range sc.GetSupplementalGroups() {
		gid, ok := int64ID(g)
		if !ok {
			return User{}, invalidf("linux.security_context.supplemental_groups[%d] %d is not a valid gid", i, g)
		}
		set = append(set, gid)
	}
	switch policy := sc.GetSupplementalGroupsPolicy(); policy {
	case runtimeapi.SupplementalGroupsPolicy_Merge:
		if u.Name != "" {
			for _, g := range groups {
				if slices.Contains(g.Members, u.Name) {
					set = append(set, g.GID)
				}
			}
		}
	case runtimeapi.SupplementalGroupsPolicy_Strict:
	default:
		return User{}, invalidf("linux.security_context.supplemental_groups_policy %d is unknown", int32(policy))
	}
	slices.Sort(set)
	u.SupplementalGroups = slices.Compact(set)
	return u, nil
}

// CRI returns u as ContainerStatus.user reports it.
func (u User) CRI() *runtimeapi.ContainerUser {
	groups := make([]int64, len(u.SupplementalGroups))
	for i, g := range u.SupplementalGroups {
		groups[i] = int64(g)
	}
	return &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{
		Uid: int64(u.UID), Gid: int64(u.GID), SupplementalGroups: groups,
	}}
}

// userByID: the passwd entry of uid gives the name and primary gid; a uid
// the image does not know runs with gid 0, as Docker does.
func userByID(users []PasswdEntry, uid uint32) User {
	if e, ok := lookupUserByID(users, uid); ok {
		return User{UID: uid, GID: e.GID, Name: e.Name}
	}
	return User{UID: uid}
}

// imageUser resolves an image config's USER string.
func imageUser(spec string, users []PasswdEntry, groups []GroupEntry) (User, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	var u User
	if uid, ok := parseID(userPart); ok {
		u = userByID(users, uid)
	} else if userPart == "" {
		u = userByID(users, 0)
	} else {
		e, ok := lookupUserByName(users, userPart)
		if !ok {
			return User{}, invalidf("image USER %q: user %q: %w", spec, userPart, ErrUnknownUser)
		}
		u = User{UID: e.UID, GID: e.GID, Name: e.Name}
	}
	if hasGroup {
		if gid, ok := parseID(groupPart); ok {
			u.GID = gid
		} else {
			g, ok := lookupGroupByName(groups, groupPart)
			if !ok || groupPart == "" {
				return User{}, invalidf("image USER %q: group %q: %w", spec, groupPart, ErrUnknownGroup)
			}
			u.GID = g.GID
		}
	}
	return u, nil
}

func int64ID(v int64) (uint32, bool) {
	if v < 0 || v >= math.MaxUint32 {
		return 0, false
	}
	return uint32(v), true
}
