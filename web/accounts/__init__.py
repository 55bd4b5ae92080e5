"""Account logic shared by several endpoints: tokens, passwords, sessions, user-interactive auth, and the
work that must follow a committed change."""
