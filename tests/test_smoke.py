"""The basics hold together: login, a page, logout."""


def test_chair_logs_in_and_sees_agencies(login_as):
    """A chair logs in and lists agencies."""
    b = login_as(roles=("chair",))
    response = b.get("/agencies/")
    assert response.status_code == 200
    assert "Agencies" in response.get_data(as_text=True)


def test_anonymous_is_sent_to_login(client):
    """An anonymous visitor is redirected to the login page."""
    response = client.get("/agencies/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
