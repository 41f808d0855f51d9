"""Run by tests/test_pytest_plugin.py in a pytest of its own (-n 2), on tests/fixtures/failing_root:
both tests need the stack, which cannot start."""


def test_one(local_stack):
    raise AssertionError("never reached: the fixture fails")


def test_two(local_stack):
    raise AssertionError("never reached: the fixture fails")
