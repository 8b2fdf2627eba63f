import inflection


def test_camelize() -> None:
    assert inflection.camelize("suite_request") == "SuiteRequest"


def test_pluralize() -> None:
    assert inflection.pluralize("phase") == "phases"
