"""Shared knowledge of the Enectiva API, used by the tap, the target and the sandbox.

One place per rule:

- ``openapi.yaml`` / :mod:`enectiva.contract`: paths, parameters, bodies, attribute schemas.
- :mod:`enectiva.media`: the JSON:API media type and its header rules.
- :mod:`enectiva.times`: RFC 3339 parsing/formatting, local month starts, filter values.
- :mod:`enectiva.rules`: rules JSON Schema cannot say (time in the past, ranges, finiteness,
  duplicate identities, overlaps, suspicious flagging).
- :mod:`enectiva.errors`: JSON:API error bodies and how a client must treat each answer.
- :mod:`enectiva.auth`: the login-token -> access-JWT exchange and when to renew.
"""
