#!/bin/sh
# `gridbot …` for the IT person: GridBot's own command, run as the service runs it (the
# gridbot user, the street's config, the service's folders). Run as root, a command would
# leave files the service can't write (a SQLite database's -wal and -shm, a backup).
#   install -m 0755 deploy/gridbot-cli.sh /usr/local/bin/gridbot
# Then `gridbot status`, `gridbot members`, `gridbot backup`, … (docs/部署指南.md).
set -eu
if [ "$(id -u)" = 0 ]; then
    exec runuser -u gridbot -- "$0" "$@"
fi
cd /var/lib/gridbot
GRIDBOT_CONFIG=${GRIDBOT_CONFIG:-/etc/gridbot/gridbot.yaml}
GRIDBOT_CACHE_DIR=${GRIDBOT_CACHE_DIR:-/var/cache/gridbot}
export GRIDBOT_CONFIG GRIDBOT_CACHE_DIR
exec /opt/gridbot/.venv/bin/gridbot "$@"
