#!/bin/sh
# End-to-end test of xsmbctl against a temporary user database: add, list, passwd, del, and
# the error and usage exit codes. Usage: xsmbctl_test.sh /path/to/xsmbctl
set -u
XSMBCTL=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
DB=$TMP/sub/users.db
ME=$(id -un)
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect CODE CMD...: runs CMD with stdin from $INPUT and checks its exit code.
INPUT=/dev/null
expect() {
  want=$1; shift
  "$@" <"$INPUT" >"$TMP/out" 2>"$TMP/err"
  got=$?
  [ "$got" -eq "$want" ] || fail "exit $got (want $want): $* -- $(cat "$TMP/err")"
}

printf 'Password\n' >"$TMP/pw1"
printf 'second-pass\n' >"$TMP/pw2"

INPUT=$TMP/pw1
expect 0 "$XSMBCTL" --db "$DB" user add alice --unix-user "$ME"
[ "$(stat -c %a "$DB")" = 600 ] || fail "database mode is $(stat -c %a "$DB"), want 600"
[ "$(stat -c %a "$TMP/sub")" = 700 ] || fail "database directory mode is not 700"
# NTOWFv1("Password") from MS-NLMP 4.2.2.1.2; the password itself must not be stored.
grep -q "^alice:$ME:A4F49C406510BDCAB6824EE7C30FD852:\$" "$DB" || fail "alice line: $(cat "$DB")"
grep -q Password "$DB" && fail "password stored in clear"

# The default unix user is the SMB name when such an account exists.
expect 0 "$XSMBCTL" --db "$DB" user add "$ME"
grep -q "^$ME:$ME:" "$DB" || fail "default unix user not used"

# Errors: duplicate (any case), unknown unix user, no such default account, no password.
expect 1 "$XSMBCTL" --db "$DB" user add ALICE --unix-user "$ME"
expect 1 "$XSMBCTL" --db "$DB" user add bob --unix-user no-such-user-xsmbd
expect 1 "$XSMBCTL" --db "$DB" user add no-such-user-xsmbd
grep -q "pass --unix-user" "$TMP/err" || fail "missing hint to pass --unix-user"
INPUT=/dev/null
expect 1 "$XSMBCTL" --db "$DB" user add carol --unix-user "$ME"
grep -q "^carol:" "$DB" && fail "user added without a password"

expect 0 "$XSMBCTL" --db "$DB" user list
printf 'alice\t%s\n%s\t%s\n' "$ME" "$ME" "$ME" >"$TMP/want"
cmp -s "$TMP/out" "$TMP/want" || fail "list output: $(cat "$TMP/out")"

INPUT=$TMP/pw2
expect 0 "$XSMBCTL" --db "$DB" user passwd Alice
grep -q "^alice:$ME:A4F49C406510BDCAB6824EE7C30FD852:" "$DB" && fail "passwd did not change hash"
grep -q "^alice:$ME:[0-9A-F]\{32\}:\$" "$DB" || fail "alice line after passwd: $(cat "$DB")"
expect 1 "$XSMBCTL" --db "$DB" user passwd nobody-here

expect 0 "$XSMBCTL" --db "$DB" user del alice
grep -q "^alice:" "$DB" && fail "alice still present after del"
expect 1 "$XSMBCTL" --db "$DB" user del alice

# The database named by "smb passwd file" in --config.
printf '[global]\nsmb passwd file = %s\n' "$TMP/fromconf.db" >"$TMP/smb.conf"
INPUT=$TMP/pw1
expect 0 "$XSMBCTL" --config "$TMP/smb.conf" user add dave --unix-user "$ME"
grep -q "^dave:" "$TMP/fromconf.db" || fail "--config database not used"
expect 1 "$XSMBCTL" --config "$TMP/missing.conf" user list

# A malformed database is an error, not an empty list.
printf 'garbage\n' >"$TMP/bad.db"
expect 1 "$XSMBCTL" --db "$TMP/bad.db" user list
grep -q "line 1" "$TMP/err" || fail "malformed database error does not name the line"

# Usage errors.
expect 2 "$XSMBCTL"
expect 2 "$XSMBCTL" --db "$DB" user
expect 2 "$XSMBCTL" --db "$DB" user frobnicate x
expect 2 "$XSMBCTL" --db "$DB" user add
expect 2 "$XSMBCTL" --db "$DB" user list extra
expect 2 "$XSMBCTL" --db "$DB" --config "$TMP/smb.conf" user list
expect 2 "$XSMBCTL" --db
expect 2 "$XSMBCTL" --bogus user list
expect 0 "$XSMBCTL" --help

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "xsmbctl_test: all passed"
