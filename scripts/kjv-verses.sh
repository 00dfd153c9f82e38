#!/usr/bin/env bash
# Prints every verse of the King James Bible, one per line, in canonical order, without references
# (Debian's bible-kjv-text, read with its `bible` program). The KJV task scripts (make-learnable-task.sh,
# make-seq2seq-task.sh) read their verses from here.
#
#   apt-get install -y bible-kjv bible-kjv-text
set -euo pipefail
if ! command -v bible >/dev/null; then
    echo "needs the KJV text: apt-get install -y bible-kjv bible-kjv-text" >&2
    exit 1
fi
# `bible` prints a reference line per chapter and "   N text" per verse.
bible -l10000 "Genesis 1:1-Revelation 22:21" 2>/dev/null | sed -n 's/^[[:space:]]\{1,\}[0-9]\{1,\} \(.*[^[:space:]]\)[[:space:]]*$/\1/p'
