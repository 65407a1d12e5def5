"""TSK004: blocking calls in async functions."""

import asyncio
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from time import sleep

import requests


async def blocks(url):
    time.sleep(1)  # expect: TSK004
    sleep(1)  # expect: TSK004
    requests.get(url)  # expect: TSK004
    response = requests.post(url, json={})  # expect: TSK004
    urllib.request.urlopen(url)  # expect: TSK004
    subprocess.run(["ls"])  # expect: TSK004
    output = subprocess.check_output(["ls"])  # expect: TSK004
    os.system("ls")  # expect: TSK004
    with open("data.txt") as f:  # expect: TSK004
        f.read()
    name = input("name? ")  # expect: TSK004
    text = Path("data.txt").read_text()  # expect: TSK004
    return response, output, name, text


async def fine(url, loop, pending):
    await asyncio.sleep(1)  # ok
    await asyncio.to_thread(time.sleep, 1)  # ok
    await loop.run_in_executor(None, lambda: time.sleep(1))  # ok: runs in a thread
    await asyncio.create_subprocess_exec("ls")  # ok
    value = pending.get(url)  # ok: not the requests module
    return value


async def nested_sync_function():
    def worker():
        time.sleep(1)  # ok: a plain function, run elsewhere
        return open("data.txt").read()  # ok

    return await asyncio.to_thread(worker)


def plain_function():
    time.sleep(1)  # ok
    requests.get("http://example.invalid")  # ok


async def awaited_file_method(apath):
    return await apath.read_text()  # ok: an async path
