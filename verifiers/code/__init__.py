"""Code answers: a program from the solution, run against a problem's tests in a sandbox.

So far: the test suites users bring (`suite`), the program in a solution (`extract`) and the
judging of what a run printed or returned (`judge`), all on plain data in the trusted parent.
The sandbox that runs the program is the next piece.
"""
