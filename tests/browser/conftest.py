from tests.support.browser import browser, dashboard, page

__all__ = ["browser", "dashboard", "page"]
