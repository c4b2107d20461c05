"""The decision core: pure functions over curves. No boto3, no clock, no environment.

Import each name from its module (``trainguard.core.median`` ...): a handler pays at import only
for the rules it runs.
"""
