"""Attack labs: a correct piece and naive twins, each open to one flaw, for a chapter to attack.

Lab code is lesson material, not a demo server: the servers never import it
(tests/test_layout.py checks that).
"""
