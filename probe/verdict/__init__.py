"""Judgement, pure: evidence plus policy in, findings and verdicts out. The verdict model
(findings), the checks, a whole run's judgement and the diff of two runs. Nothing here
opens a socket or reads a clock it was not given."""
