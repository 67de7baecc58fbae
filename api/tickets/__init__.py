"""The ticket subscription (I-2): a recorded event's result once its settlement commits."""
