"""The web page's query tools in a real headless Chromium: products or media, a score threshold,
"more like this" / "less like this" refining the query on show, "load more", and errors shown.

Cards are read in one script call (`shown`), so a re-render between two reads cannot go stale.
"""

from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from stockmind.service import api_keys
from stockmind.store import connect
from tests.integration.service import test_page_search
from tests.integration.service.support import new_photo, owned_by
from tests.integration.service.test_page_search import WAIT_S

# The same browser and page fixtures (one browser per module).
browser = test_page_search.browser
page = test_page_search.page

pytestmark = pytest.mark.slow

QUERY = "a red circle"
SHOWN = """return [...document.querySelectorAll(arguments[0])]
                  .map(e => ({key: e.dataset.key, sku: e.dataset.sku, score: Number(e.dataset.score)}))"""


def shown(driver, selector="#results .result") -> list[dict]:
    return driver.execute_script(SHOWN, selector)


def until(driver, condition):
    return WebDriverWait(driver, WAIT_S).until(lambda b: condition())


def search(driver, text=QUERY) -> list[dict]:
    driver.find_element(By.ID, "query").send_keys(text)
    driver.find_element(By.CSS_SELECTOR, "#search-form button").click()
    return until(driver, lambda: shown(driver))


def set_option(driver, element_id: str, value: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value, Keys.TAB)  # leaving the field is what fires its change


def click_on_card(driver, key: str, label: str) -> None:
    card = driver.find_element(By.CSS_SELECTOR, f'#results .result[data-key="{key}"]')
    card.find_element(By.XPATH, f'.//button[text()="{label}"]').click()


def chips(driver, role: str) -> list[str]:
    return [c["key"] for c in shown(driver, f"#query-parts .part.{role}")]


def uncaught_errors(driver) -> list[dict]:
    # A failed request is logged as a "network" entry; a throw on the page is a "javascript" one.
    return [entry for entry in driver.get_log("browser") if entry["source"] == "javascript"]


def test_the_products_toggle_groups_media_under_distinct_skus(page):
    search(page)
    page.find_element(By.CSS_SELECTOR, '#show input[value="sku"]').click()
    products = until(page, lambda: shown(page, "#results .product"))
    skus = [p["sku"] for p in products]
    assert skus[0] == "sku-red-circle" and len(set(skus)) == len(skus) > 1
    for product in page.find_elements(By.CSS_SELECTOR, "#results .product"):
        media = shown(page, f'#results .product[data-sku="{product.get_attribute("data-sku")}"] .result')
        assert media and {m["sku"] for m in media} == {product.get_attribute("data-sku")}
        assert float(product.get_attribute("data-score")) == media[0]["score"]
    assert "products for" in page.find_element(By.ID, "status").text

    page.find_element(By.CSS_SELECTOR, '#show input[value=""]').click()
    until(page, lambda: not shown(page, "#results .product") and shown(page))


def test_a_score_threshold_cuts_the_results(page):
    scores = [r["score"] for r in search(page)]
    threshold = int(scores[3] * 1000) / 1000
    assert scores[-1] < threshold, "the first page's scores are too close to cut between"

    set_option(page, "min-score", str(threshold))
    kept = until(page, lambda: 0 < len(shown(page)) < len(scores) and shown(page))
    assert all(r["score"] >= threshold for r in kept)

    set_option(page, "min-score", "0.99")
    until(page, lambda: page.find_elements(By.CSS_SELECTOR, "#results .empty"))
    assert not shown(page) and page.find_element(By.ID, "status").text.startswith("0 results")


def test_more_like_this_adds_the_card_to_the_query_as_an_example(page):
    example = search(page)[1]["key"]
    click_on_card(page, example, "more like this")
    refined = until(page, lambda: chips(page, "positive") == [example]
                    and (keys := [r["key"] for r in shown(page)]) and example not in keys and keys)
    assert owned_by("acme", refined)
    assert page.find_element(By.CSS_SELECTOR, "#query-parts .part.text").text.startswith(f"text “{QUERY}”")
    assert "1 like" in page.find_element(By.ID, "status").text


def test_less_like_this_adds_a_counter_example_and_chips_remove_parts(page):
    first = search(page)
    counter = first[0]["key"]
    click_on_card(page, counter, "less like this")
    until(page, lambda: chips(page, "negative") == [counter]
          and (keys := [r["key"] for r in shown(page)]) and counter not in keys)

    page.find_element(By.CSS_SELECTOR, f'#query-parts .part.negative[data-key="{counter}"] button').click()
    until(page, lambda: not chips(page, "negative") and counter in [r["key"] for r in shown(page)])


def test_load_more_appends_pages_until_the_query_is_exhausted(page, service):
    set_option(page, "k", "10")
    keys = [r["key"] for r in search(page)]
    more = page.find_element(By.ID, "load-more")
    pages = 1
    while more.is_displayed():
        more.click()
        before = len(keys)
        keys = until(page, lambda: len(shown(page)) > before and [r["key"] for r in shown(page)])
        pages += 1
        assert pages < 10, "load more did not end"
    assert len(keys) == len(set(keys)) and set(keys) == service.catalogue.keys_of("acme")
    assert pages == 3  # 25 media, 10 a page


def test_refining_an_upload_starts_from_the_chosen_example(page, tmp_path: Path):
    photo = tmp_path / "blue-square.jpg"
    photo.write_bytes(new_photo("blue", "square", seed=5))
    page.find_element(By.ID, "image-input").send_keys(str(photo))
    example = until(page, lambda: shown(page))[0]["key"]
    assert "blue-square.jpg" in page.find_element(By.ID, "status").text
    card = page.find_element(By.CSS_SELECTOR, f'#results .result[data-key="{example}"]')
    assert not card.find_element(By.XPATH, './/button[text()="less like this"]').is_enabled()

    click_on_card(page, example, "more like this")
    until(page, lambda: chips(page, "positive") == [example]
          and (keys := [r["key"] for r in shown(page)]) and example not in keys)
    assert not page.find_elements(By.CSS_SELECTOR, "#query-parts .part.image")


def test_a_refused_request_shows_the_servers_message(page, service):
    with connect(service.settings.database_url) as conn:
        token = api_keys.create_key(conn, "acme", "page tests", rate_per_s=0.01, burst=1).token
    key = page.find_element(By.ID, "api-key")
    key.clear()
    key.send_keys(token, Keys.ENTER)
    search(page)
    page.find_element(By.CSS_SELECTOR, "#search-form button").click()
    WebDriverWait(page, WAIT_S).until(ec.text_to_be_present_in_element((By.ID, "status"), "429: "))

    refused = httpx.get(f"{service.url}/v1/search", params={"q": QUERY}, headers={"Authorization": f"Bearer {token}"})
    message = refused.json()["error"]["message"]
    status = page.find_element(By.ID, "status")
    assert status.text.startswith(f"429: {message.split(';')[0]}") and "error" in status.get_attribute("class")
    # The log holds the whole module's console since the browser started: nothing threw in any test.
    assert not shown(page) and uncaught_errors(page) == []
