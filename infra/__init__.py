"""CDK app for trainguard: one stack (`TrainguardStack`), one construct per capability."""
