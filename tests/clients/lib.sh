# Shared by the client smoke scripts (sourced after `dir` is set): the check helpers, the test
# tree (small files, an empty one, a name with a space, a 21 MiB file that crosses every tool's
# multipart threshold once set to 5 MiB) and tree comparison by SHA-256.
ok() { echo "ok   $1"; }
fail() { echo "FAIL $1" >&2; exit 1; }

tree="$dir/tree"
mkdir -p "$tree/sub/deeper"
head -c $((21 * 1024 * 1024)) /dev/urandom >"$tree/large.bin"
for i in 1 2 3 4 5; do head -c $((i * 1000)) /dev/urandom >"$tree/sub/small-$i.txt"; done
echo "deep file" >"$tree/sub/deeper/note.txt"
echo "a name with a space" >"$tree/sub/with space.txt"
: >"$tree/sub/empty.txt"

# sha256 of every file under $1, by relative path.
sums() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
same_tree() { diff -u <(sums "$1") <(sums "$2") >&2; }
count() { find "$1" -type f | wc -l; }
bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
