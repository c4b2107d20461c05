"""One construct per capability: state, notifications, functions, events, alarms, dashboard,
cleanup."""
