"""tackbridge.outbox"""
