"""Gymnasium environments over the schedule evaluator (issue 4)."""
