package oci

import (
	"errors"
	"slices"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestParsePasswd(t *testing.T) {
	data := []byte(`# comment
root:x:0:0:root:/root:/bin/sh

+nis-entry
-other
short:x:1
badid:x:abc:1::/:/bin/sh
toobig:x:4294967295:0::/:/bin/sh
min:x:7:8
  www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin  
`)
	got := ParsePasswd(data)
	want := []PasswdEntry{
		{Name: "root", UID: 0, GID: 0, Home: "/root", Shell: "/bin/sh"},
		{Name: "min", UID: 7, GID: 8},
		{Name: "www-data", UID: 33, GID: 33, Home: "/var/www", Shell: "/usr/sbin/nologin"},
	}
	jsonEqual(t, got, want)
	if ParsePasswd(nil) != nil {
		t.Fatal("nil file must give no entries")
	}
}

func TestParseGroup(t *testing.T) {
	data := []byte(`root:x:0:
wheel:x:10:root, alice ,,bob
nomembers:x:11
bad:x:-1:root
# comment
audio:x:29:alice
`)
	got := ParseGroup(data)
	want := []GroupEntry{
		{Name: "root", GID: 0},
		{Name: "wheel", GID: 10, Members: []string{"root", "alice", "bob"}},
		{Name: "nomembers", GID: 11},
		{Name: "audio", GID: 29, Members: []string{"alice"}},
	}
	jsonEqual(t, got, want)
}

func TestResolveUser(t *testing.T) {
	strict := runtimeapi.SupplementalGroupsPolicy_Strict
	for _, tc := range []struct {
		name      string
		sc        *runtimeapi.LinuxContainerSecurityContext
		imageUser string
		noFiles   bool
		want      User
		err       error
	}{
		{name: "no user anywhere: root with its groups", want: User{UID: 0, GID: 0, SupplementalGroups: []uint32{0, 10}, Name: "root"}},
		{name: "no user, image without passwd", noFiles: true, want: User{SupplementalGroups: []uint32{0}}},
		{name: "critest RunAsUser 1001 (not in passwd)", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1001)},
			want: User{UID: 1001, GID: 0, SupplementalGroups: []uint32{0}}},
		{name: "critest RunAsUser 1001 + RunAsGroup 1002", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1001), RunAsGroup: i64(1002)},
			want: User{UID: 1001, GID: 1002, SupplementalGroups: []uint32{1002}}},
		{name: "critest RunAsUsername nobody", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: "nobody"},
			want: User{UID: 65534, GID: 65534, SupplementalGroups: []uint32{65534}, Name: "nobody"}},
		{name: "critest supplemental groups", sc: &runtimeapi.LinuxContainerSecurityContext{SupplementalGroups: []int64{5678, 1234}},
			want: User{UID: 0, GID: 0, SupplementalGroups: []uint32{0, 10, 1234, 5678}, Name: "root"}},
		{name: "critest predefined group, Merge", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1000), SupplementalGroups: []int64{1234}},
			want: User{UID: 1000, GID: 1000, SupplementalGroups: []uint32{1000, 1234, 50000}, Name: "default-user"}},
		{name: "critest predefined group, Strict", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1000), SupplementalGroups: []int64{1234}, SupplementalGroupsPolicy: strict},
			want: User{UID: 1000, GID: 1000, SupplementalGroups: []uint32{1000, 1234}, Name: "default-user"}},
		{name: "image USER uid in passwd", imageUser: "1000", want: User{UID: 1000, GID: 1000, SupplementalGroups: []uint32{1000, 50000}, Name: "default-user"}},
		{name: "image USER uid not in passwd", imageUser: "1002", want: User{UID: 1002, SupplementalGroups: []uint32{0}}},
		{name: "image USER name", imageUser: "www-data", want: User{UID: 33, GID: 33, SupplementalGroups: []uint32{33}, Name: "www-data"}},
		{name: "image USER uid:gid", imageUser: "1003:1004", want: User{UID: 1003, GID: 1004, SupplementalGroups: []uint32{1004}}},
		{name: "image USER name:gid", imageUser: "www-data:1004", want: User{UID: 33, GID: 1004, SupplementalGroups: []uint32{1004}, Name: "www-data"}},
		{name: "image USER name:group", imageUser: "default-user:wheel", want: User{UID: 1000, GID: 10, SupplementalGroups: []uint32{10, 50000}, Name: "default-user"}},
		{name: "image USER uid:group", imageUser: "1002:nogroup", want: User{UID: 1002, GID: 65534, SupplementalGroups: []uint32{65534}}},
		{name: "run_as_user replaces the image's user and group", imageUser: "www-data:wheel", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1000)},
			want: User{UID: 1000, GID: 1000, SupplementalGroups: []uint32{1000, 50000}, Name: "default-user"}},
		{name: "run_as_group with only the image's USER", imageUser: "www-data", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsGroup: i64(5)}, err: ErrInvalid},
		{name: "critest RunAsGroup without RunAsUser", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsGroup: i64(1002)}, err: ErrInvalid},
		{name: "both run_as_user and run_as_username", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1), RunAsUsername: "daemon"}, err: ErrInvalid},
		{name: "unknown run_as_username", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: "ghost"}, err: ErrUnknownUser},
		{name: "run_as_username without passwd", noFiles: true, sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: "nobody"}, err: ErrUnknownUser},
		{name: "unknown image user name", imageUser: "ghost", err: ErrUnknownUser},
		{name: "unknown image group name", imageUser: "1000:ghosts", err: ErrUnknownGroup},
		{name: "empty image group", imageUser: "1000:", err: ErrUnknownGroup},
		{name: "negative uid", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(-1)}, err: ErrInvalid},
		{name: "uid too large", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1 << 32)}, err: ErrInvalid},
		{name: "negative gid", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1), RunAsGroup: i64(-5)}, err: ErrInvalid},
		{name: "negative supplemental group", sc: &runtimeapi.LinuxContainerSecurityContext{SupplementalGroups: []int64{-1}}, err: ErrInvalid},
		{name: "unknown policy", sc: &runtimeapi.LinuxContainerSecurityContext{SupplementalGroupsPolicy: 7}, err: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := Image{Passwd: []byte(testPasswd), Group: []byte(testGroup)}
			if tc.noFiles {
				img = Image{}
			}
			img.Config.User = tc.imageUser
			got, err := ResolveUser(tc.sc, img)
			wantErr(t, err, tc.err)
			if tc.err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("every user error is also ErrInvalid: %v", err)
				}
				return
			}
			jsonEqual(t, got, tc.want)
		})
	}
}

// TestContainerUser checks that the spec's user is the resolved one.
func TestContainerUser(t *testing.T) {
	in := testContainerInput()
	sc(&in).RunAsUser = i64(1000)
	sc(&in).SupplementalGroups = []int64{1234}
	s, u := mustContainer(t, in)
	if s.Process.User.UID != 1000 || s.Process.User.GID != 1000 || !slices.Equal(s.Process.User.AdditionalGids, []uint32{1000, 1234, 50000}) {
		t.Fatalf("spec user = %+v", s.Process.User)
	}
	if u.UID != 1000 || !slices.Equal(u.SupplementalGroups, s.Process.User.AdditionalGids) {
		t.Fatalf("returned user %+v differs from the spec's", u)
	}
	// What critest's SupplementalGroupsPolicy Merge spec compares.
	jsonEqual(t, u.CRI(), &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{
		Uid: 1000, Gid: 1000, SupplementalGroups: []int64{1000, 1234, 50000},
	}})
}
