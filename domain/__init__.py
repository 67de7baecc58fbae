"""The rules of every reward model, pure: plain data in, decisions and ledger postings out.

Nothing here does I/O, reads the clock or draws random numbers; the shell passes them in.
"""
