"""Notifier service: letter templates, notification batches and deliveries, generated files,
outgoing emails; a worker that renders letters (PDF) and sends emails (SMTP)."""
