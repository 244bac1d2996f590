"""The accounts service's use cases.

A use case is what an entry point calls — a console view, a staff API view, a `tsctl` command:
given the open unit of work and, for a person's action, who acts (`audit.Actor`), it validates,
changes, records the audit entry (J2), emits its events and commits. The entry points only
translate HTTP or the command line in and out: one call, then the answer, with the named errors of
`errors` turned into French messages (per field when the error names fields).

Functions without an actor that change things (`schools.add_school`, `imports.import_population`,
`accounts.set_access_refused`, …) are the steps use cases are made of, and what the event handlers
call (the consumer commits with its inbox): they never commit.
"""
