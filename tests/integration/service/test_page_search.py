"""The web page in a real headless Chromium: type a query, see thumbnails; upload an image, see results."""

import shutil
import tempfile
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.integration.service.support import new_photo, owned_by

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Without the background-networking flags Chromium keeps trying to reach the internet (FACTS).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,900")
WAIT_S = 60


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="stockmind-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # The console's log, so tests can tell that nothing on the page threw.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager would otherwise try to download one.
    driver = webdriver.Chrome(service=DriverService(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser, service):
    """The page, opened with acme's API key entered and saved."""
    browser.get(service.url + "/")
    browser.execute_script("localStorage.clear()")
    browser.get(service.url + "/")
    key = browser.find_element(By.ID, "api-key")
    key.clear()
    key.send_keys(service.tokens["acme"])
    browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
    WebDriverWait(browser, WAIT_S).until(ec.text_to_be_present_in_element((By.ID, "status"), "saved"))
    return browser


def results(browser) -> list:
    WebDriverWait(browser, WAIT_S).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#results .result"))
    return browser.find_elements(By.CSS_SELECTOR, "#results .result")


def loaded_images(browser) -> int:
    return browser.execute_script(
        "return [...document.querySelectorAll('#results img')].filter(i => i.complete && i.naturalWidth > 0).length")


def test_typing_a_query_shows_thumbnails_with_scores(page):
    query = page.find_element(By.ID, "query")
    query.send_keys("a red circle")
    page.find_element(By.CSS_SELECTOR, "#search-form button").click()
    cards = results(page)
    keys = [card.get_attribute("data-key") for card in cards]
    assert owned_by("acme", keys) and "red-circle" in keys[0]
    assert cards[0].find_element(By.CSS_SELECTOR, ".score").text.startswith("score ")
    # The thumbnails are real pictures fetched through their presigned URLs.
    WebDriverWait(page, WAIT_S).until(lambda b: loaded_images(b) >= 2)
    assert "client acme" in page.find_element(By.ID, "who").text


def test_a_video_result_shows_its_moment(page):
    page.find_element(By.ID, "query").send_keys("a black star")
    page.find_element(By.CSS_SELECTOR, "#search-form button").click()
    first = results(page)[0]
    assert first.get_attribute("data-media-type") == "video"
    moment = first.find_element(By.CSS_SELECTOR, ".moment").text
    assert moment.startswith("at ") and 3.0 <= float(moment.split()[1]) < 6.0
    assert "#t=" in first.find_element(By.TAG_NAME, "video").get_attribute("src")


def test_uploading_an_image_shows_similar_results(page, tmp_path: Path):
    photo = tmp_path / "green-triangle.jpg"
    photo.write_bytes(new_photo("green", "triangle", seed=3))
    page.find_element(By.ID, "image-input").send_keys(str(photo))
    WebDriverWait(page, WAIT_S).until(ec.text_to_be_present_in_element((By.ID, "status"), "green-triangle.jpg"))
    cards = results(page)
    assert "green-triangle" in cards[0].get_attribute("data-key")
    assert owned_by("acme", [card.get_attribute("data-key") for card in cards])


def test_without_a_key_the_page_says_what_to_do(browser, service):
    browser.get(service.url + "/")
    browser.execute_script("localStorage.clear()")
    browser.get(service.url + "/")
    browser.find_element(By.ID, "query").send_keys("a red circle")
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    WebDriverWait(browser, WAIT_S).until(ec.text_to_be_present_in_element((By.ID, "status"), "API key"))
    assert "error" in browser.find_element(By.ID, "status").get_attribute("class")
