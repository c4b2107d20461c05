"""Candidate objective rules of the policy study (issue 24, docs/policy-study.md): replayed by
`bench/policy_study.py` beside the default, not shipped to Lambda."""
