"""Stage 3, shrink: make a laid-out layer smaller before it is audited.

Takes a layer tree and the size options; gives what each step removed.
`exclude` (leave packages out, with what only they needed), then `slim` (files
no import needs), then `strip` (ELF symbols); `apply` runs them in that order,
so nothing is stripped only to be deleted.
"""
