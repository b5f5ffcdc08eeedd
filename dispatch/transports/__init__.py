"""Hand-off to the outside world: the print outbox and the e-mail mailer."""
