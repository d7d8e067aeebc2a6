#!/bin/sh
# The image's roles: one name, one command, exec'd so that signals reach it (Kubernetes sends
# SIGTERM to PID 1). No role serves the web. Anything else runs as a chatdesk command.
set -eu

role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
  web)
    # Workers: not the node's CPU count (a pod sees every core of its node), a setting.
    exec chatdesk serve --host "${CHATDESK_BIND_HOST:-0.0.0.0}" --port "${CHATDESK_PORT:-8000}" \
      --workers "${CHATDESK_WORKERS:-2}" --timeout "${CHATDESK_WORKER_TIMEOUT:-60}" "$@" ;;
  migrate)
    exec chatdesk db upgrade "$@" ;;
  demo)
    exec chatdesk demo "$@" ;;
  train)
    # Retrain on the base examples and what agents taught; serve the new version only if it
    # beats the active one on the held-out examples (CHATDESK_TRAIN_* settings).
    exec chatdesk train --taught --promote-if-better --json "$@" ;;
  *)
    exec chatdesk "$role" "$@" ;;
esac
