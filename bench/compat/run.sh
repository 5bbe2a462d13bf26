#!/bin/sh
# bench/compat/run.sh CORPUS_DIR [options]: see README.md
exec node "$(dirname "$0")/run.js" "$@"
