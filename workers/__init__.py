"""arq jobs: take the queue's lock, load its state, ask the domain, write once, publish."""
