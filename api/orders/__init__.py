"""Order events (M-5) recorded as tickets (I-2) and settled by the queue workers."""
