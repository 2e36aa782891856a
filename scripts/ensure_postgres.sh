#!/usr/bin/env bash
# The warehouse test loads a real PostgreSQL: install the server from the machine's packages
# where it is missing (Debian/Ubuntu, as root). Elsewhere say what to do; the test then skips
# (outside CI) or fails (under CI=true).
set -u
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing PostgreSQL (the warehouse test loads a real server)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
    && exit 0
  echo "could not install PostgreSQL" >&2
  exit 1
fi
echo "PostgreSQL server binaries not found: install the postgresql package for the warehouse test" >&2
exit 0
