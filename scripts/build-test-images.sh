#!/usr/bin/env bash
# Builds the container images the tests and the tutorial use, offline, from Debian packages already on
# this machine (no registry, no internet):
#
#   OUTDIR/busybox/          OCI layout, tag latest           (Debian busybox-static)
#   OUTDIR/debian/           OCI layout, tag latest           (the same image: the tutorial only needs /bin/sh)
#   OUTDIR/nginx/            OCI layout, tags latest 1.17.8 1.17.10   (Debian's nginx + the libs ldd lists + busybox)
#   OUTDIR/xxx-cpwar/        OCI layout, tag v2               (busybox + /sample.war)
#   OUTDIR/xxx-tomcat/       OCI layout, tag 7.0              (busybox + /path-to-tomcat/bin/start.sh → busybox httpd :8080)
#   OUTDIR/images.oci.tar    all of the above in one OCI-layout tarball, each manifest annotated with its full name
#                            (io.containerd.image.name), for `skiff images import`
#
# Layers are deterministic (sorted tar, owner 0, mtime 0, gzip -n), so two builds on one machine give the same
# digests and the busybox layer is shared by every image. The script installs nothing: scripts/ensure-deps.sh does.
# Idempotent: a stamp of the inputs makes a second run a no-op; a lock makes parallel runs (one per test process)
# build once.
#
# Usage: scripts/build-test-images.sh [OUTDIR]   (default: .tmp/test-images in the repository, where the tests look)
set -euo pipefail

if [ $# -gt 1 ]; then
  echo "usage: $0 [OUTDIR]" >&2
  exit 2
fi
SELF=$(readlink -f "$0")
OUT=${1:-$(dirname "$(dirname "$SELF")")/.tmp/test-images}

die() { echo "build-test-images: $*" >&2; exit 1; }

# Each tool with the Debian package that provides it, so a failure says what to install.
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: install the Debian package '$2' (scripts/ensure-deps.sh does)"; }
need busybox busybox-static
need nginx nginx-light
need ldd libc-bin
need sha256sum coreutils
need gzip gzip
need tar tar
need flock util-linux
BUSYBOX=$(command -v busybox)
NGINX=$(command -v nginx)
# Debian's /bin/busybox from busybox-static is static; the dynamic one from `busybox` would need its libs too.
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  die "$BUSYBOX is dynamically linked: install the Debian package 'busybox-static' (not 'busybox')"
fi
[ -f /etc/nginx/mime.types ] || die "/etc/nginx/mime.types missing: install the Debian package 'nginx-common'"

case "$(uname -m)" in
  x86_64) ARCH=amd64 ;;
  aarch64) ARCH=arm64 ;;
  armv7l) ARCH=arm ;;
  ppc64le) ARCH=ppc64le ;;
  s390x) ARCH=s390x ;;
  *) die "unsupported machine $(uname -m)" ;;
esac

mkdir -p "$OUT"
OUT=$(readlink -f "$OUT")
exec 9>"$OUT/.lock"
flock 9

# The stamp covers everything the output depends on: this script and the two binaries (a package upgrade rebuilds).
KEY=$( { sha256sum "$SELF"; stat -c '%n %s %Y' "$BUSYBOX" "$NGINX" /etc/nginx/mime.types; echo "$ARCH"; } | sha256sum | cut -c1-64)
complete() {
  local img
  for img in busybox debian nginx xxx-cpwar xxx-tomcat; do [ -f "$OUT/$img/index.json" ] || return 1; done
  [ -f "$OUT/images.oci.tar" ]
}
if [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$KEY" ] && complete; then
  exit 0
fi

# Leftovers of a build that was killed (we hold the lock, so no build is running).
rm -rf "$OUT"/.build-*
WORK=$(mktemp -d "$OUT/.build-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
umask 022

# --- helpers -----------------------------------------------------------------------------------------------

sha() { sha256sum "$1" | cut -c1-64; }
size() { stat -c %s "$1"; }

# put_blob FILE LAYOUT → prints the digest hex; stores FILE as a blob of LAYOUT.
put_blob() {
  local h; h=$(sha "$1")
  mkdir -p "$2/blobs/sha256"
  [ -f "$2/blobs/sha256/$h" ] || cp "$1" "$2/blobs/sha256/$h"
  echo "$h"
}

# make_layer DIR NAME → builds NAME.tar.gz from DIR; sets LAYER_<NAME>_{DIFF,DIGEST,SIZE}.
make_layer() {
  local dir=$1 name=$2
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu -C "$dir" -cf "$WORK/$name.tar" .
  gzip -n -9 -c "$WORK/$name.tar" > "$WORK/$name.tar.gz"
  printf -v "LAYER_${name}_DIFF" '%s' "$(sha "$WORK/$name.tar")"
  printf -v "LAYER_${name}_DIGEST" '%s' "$(sha "$WORK/$name.tar.gz")"
  printf -v "LAYER_${name}_SIZE" '%s' "$(size "$WORK/$name.tar.gz")"
}

# json_array a b c → ["a","b","c"] (the values here never need escaping beyond quotes).
json_array() {
  local out='' v
  for v in "$@"; do out+="${out:+,}\"${v//\"/\\\"}\""; done
  printf '[%s]' "$out"
}

PATHENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
INDEX_ENTRIES=()   # descriptors for the combined images.oci.tar index

# make_image LAYOUT REPO "TAG..." CONFIG_EXTRA CMD_JSON LAYER_NAME...
#   Writes config + manifest into LAYOUT and tags it; CONFIG_EXTRA is extra JSON members of "config".
make_image() {
  local layout=$1 repo=$2 tags=$3 extra=$4 cmd=$5; shift 5
  local layers='' diffs='' hist='' name d
  mkdir -p "$layout/blobs/sha256"
  for name in "$@"; do
    local dg="LAYER_${name}_DIGEST" df="LAYER_${name}_DIFF" sz="LAYER_${name}_SIZE"
    d=$(put_blob "$WORK/$name.tar.gz" "$layout")
    [ "$d" = "${!dg}" ] || die "layer $name digest changed while building"
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:${!dg}\",\"size\":${!sz}}"
    diffs+="${diffs:+,}\"sha256:${!df}\""
    hist+="${hist:+,}{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"scripts/build-test-images.sh: $name\"}"
  done
  printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["%s"],"Cmd":%s,"WorkingDir":"/"%s},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
    "$ARCH" "$PATHENV" "$cmd" "$extra" "$diffs" "$hist" > "$WORK/config.json"
  local cdig csize; cdig=$(put_blob "$WORK/config.json" "$layout"); csize=$(size "$WORK/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$cdig" "$csize" "$layers" > "$WORK/manifest.json"
  local mdig msize; mdig=$(put_blob "$WORK/manifest.json" "$layout"); msize=$(size "$WORK/manifest.json")
  local entries='' t
  for t in $tags; do
    entries+="${entries:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$mdig\",\"size\":$msize,\"platform\":{\"architecture\":\"$ARCH\",\"os\":\"linux\"},\"annotations\":{\"org.opencontainers.image.ref.name\":\"$t\"}}"
    INDEX_ENTRIES+=("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$mdig\",\"size\":$msize,\"platform\":{\"architecture\":\"$ARCH\",\"os\":\"linux\"},\"annotations\":{\"io.containerd.image.name\":\"$repo:$t\",\"org.opencontainers.image.ref.name\":\"$t\"}}")
  done
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$entries" > "$layout/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
}

# --- layer: busybox (the base of every image) ----------------------------------------------------------------

B="$WORK/rootfs-busybox"
mkdir -p "$B"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,var,dev,proc,sys,run}
mkdir -p -m 1777 "$B/tmp"
cp "$BUSYBOX" "$B/bin/busybox"
chmod 0755 "$B/bin/busybox"
# Every applet as an absolute symlink to /bin/busybox, at the path busybox itself reports.
"$BUSYBOX" --list-full | while read -r applet; do
  case "$applet" in */*) ;; *) continue ;; esac   # skip "linuxrc" at the root
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$B/$(dirname "$applet")"
  ln -sf /bin/busybox "$B/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$B/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$B/etc/group"
make_layer "$B" busybox

# --- layer: nginx --------------------------------------------------------------------------------------------

N="$WORK/rootfs-nginx"
mkdir -p "$N"/{usr/sbin,etc/nginx,usr/share/nginx/html,var/lib/nginx,var/log/nginx,var/lock,run}
cp "$NGINX" "$N/usr/sbin/nginx"
# Exactly the shared libraries ldd lists, at the paths the loader will look for them (including the interpreter).
ldd "$NGINX" | awk '/=> \// { print $3 } /^[ \t]*\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
  mkdir -p "$N/$(dirname "$lib")"
  cp -L "$lib" "$N/$lib"
done
# The ELF interpreter must be there too, or exec fails with a confusing "No such file or directory".
interp=$(ldd "$NGINX" | awk '/^[ \t]*\/[^ ]+ \(/ { print $1 }')
[ -n "$interp" ] && [ -f "$N/$interp" ] || die "could not copy the ELF interpreter of $NGINX (ldd output not understood)"
cp /etc/nginx/mime.types "$N/etc/nginx/mime.types"
cat > "$N/etc/nginx/nginx.conf" <<'EOF'
# Minimal nginx for skiff's test images: root, port 80, logs to the container's stdout/stderr. Like the
# official image, the foreground flag comes from the command line (-g "daemon off;"), not from here.
user root;
worker_processes 1;
pid /run/nginx.pid;
error_log /dev/stderr notice;

events {
    worker_connections 256;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    sendfile on;
    keepalive_timeout 65;

    server {
        listen 80 default_server;
        server_name _;
        root /usr/share/nginx/html;
        index index.html;
        location / {
            try_files $uri $uri/ =404;
        }
    }
}
EOF
cat > "$N/usr/share/nginx/html/index.html" <<'EOF'
<!DOCTYPE html>
<html>
<head><title>Welcome to nginx!</title></head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and working.</p>
</body>
</html>
EOF
printf 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$N/etc/passwd"
printf 'root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n' > "$N/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$N/etc/nsswitch.conf"
make_layer "$N" nginx

# --- layers: the javaweb tutorial's two images ---------------------------------------------------------------

W="$WORK/rootfs-cpwar"
mkdir -p "$W"
printf 'skiff sample.war v2\n' > "$W/sample.war"
make_layer "$W" cpwar

T="$WORK/rootfs-tomcat"
mkdir -p "$T/path-to-tomcat/bin" "$T/path-to-tomcat/webapps"
printf '#!/bin/sh\n# Stands in for Tomcat: serves the webapps directory on :8080.\nexec busybox httpd -f -p 8080 -h /path-to-tomcat/webapps\n' > "$T/path-to-tomcat/bin/start.sh"
chmod 0755 "$T/path-to-tomcat/bin/start.sh"
make_layer "$T" tomcat

# --- images ----------------------------------------------------------------------------------------------------

L="$WORK/layouts"
mkdir -p "$L"
make_image "$L/busybox" docker.io/library/busybox "latest" '' '["sh"]' busybox
make_image "$L/debian" docker.io/library/debian "latest" '' '["sh"]' busybox
make_image "$L/nginx" docker.io/library/nginx "latest 1.17.8 1.17.10" \
  ',"ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGQUIT"' '["nginx","-g","daemon off;"]' busybox nginx
make_image "$L/xxx-cpwar" docker.io/xxx/cpwar "v2" '' '["sh"]' busybox cpwar
make_image "$L/xxx-tomcat" docker.io/xxx/tomcat "7.0" ',"ExposedPorts":{"8080/tcp":{}}' '["/path-to-tomcat/bin/start.sh"]' busybox tomcat

# One layout with everything, annotated with full names the way `ctr images export` does.
A="$WORK/all"
mkdir -p "$A/blobs/sha256"
for d in "$L"/*/blobs/sha256/*; do cp -n "$d" "$A/blobs/sha256/"; done
printf '{"imageLayoutVersion":"1.0.0"}' > "$A/oci-layout"
entries=$(IFS=,; echo "${INDEX_ENTRIES[*]}")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$entries" > "$A/index.json"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu -C "$A" -cf "$WORK/images.oci.tar" oci-layout index.json blobs

# --- publish: replace the outputs, then write the stamp last ------------------------------------------------------

rm -f "$OUT/.stamp"
for img in busybox debian nginx xxx-cpwar xxx-tomcat; do
  rm -rf "${OUT:?}/$img"
  mv "$L/$img" "$OUT/$img"
done
mv -f "$WORK/images.oci.tar" "$OUT/images.oci.tar"
echo "$KEY" > "$OUT/.stamp"
echo "build-test-images: built busybox debian nginx xxx/cpwar xxx/tomcat in $OUT" >&2
