"""Official notices: Jinja2 templates, the transactional outbox and SMTP delivery (issue 3)."""
