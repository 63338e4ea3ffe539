"""Throughput of smsnotify.encoding.segment_info on realistic SMS bodies.

Run: .venv/bin/python bench/bench_segments.py [--count N] [--repeat R]

Builds deterministic order notifications in English, Polish and Portuguese (names, amounts,
links, some emoji, some multipart ones), pins the process to one core, and times
segment_info over all of them. Prints the best of R runs and PASS/FAIL against the target.
No Django settings needed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import record  # noqa: E402
from smsnotify.encoding import segment_info, segments  # noqa: E402

TARGET_PER_SECOND = 300_000

FIRST_NAMES = {
    "en": ["Anna", "John", "Emily", "Michael", "Sarah", "David", "Olivia", "James", "Chloe", "Liam"],
    "pl": ["Łukasz", "Zofia", "Paweł", "Małgorzata", "Krzysztof", "Agnieszka", "Michał", "Joanna",
           "Kasia", "Tomek"],
    "pt": ["João", "Conceição", "Luís", "Inês", "Gonçalo", "Ana", "Sebastião", "Lúcia", "Pedro",
           "Mariana"],
}
SHOPS = ["Green Leaf", "Kawiarnia Pod Różą", "Loja da Esquina", "Urban Bikes", "Sklep Ewa",
         "Padaria Pão Quente"]
CITIES = {"en": ["London", "Leeds", "Bristol"], "pl": ["Łódź", "Gdańsk", "Kraków", "Wrocław"],
          "pt": ["São Paulo", "Braga", "Coimbra", "Évora"]}
EMOJI = ["📦", "🚚", "🎉", "❤️", "👍", "🙂", "✅", "🛒", "⭐", "👍🏽"]

TEMPLATES = {
    "en": [
        "Hi {name}, your order #{order} from {shop} has shipped. Track it: https://trk.example/{code}",
        "{shop}: order #{order} confirmed. Total £{amount_en}. Thank you, {name}!",
        "Hello {name}! Your parcel is out for delivery in {city} today between {h1}:00 and {h2}:00.",
        "{shop}: your verification code is {code6}. It expires in 10 minutes.",
        "Reminder: your appointment at {shop} is tomorrow at {h1}:30. Reply STOP to opt out.",
        "{name}, we miss you! Use code SAVE{pct} for {pct}% off your next order at {shop}.",
    ],
    "pl": [
        "Cześć {name}! Twoje zamówienie nr {order} ze sklepu {shop} zostało wysłane. Śledź: https://trk.example/{code}",
        "{shop}: zamówienie {order} potwierdzone. Do zapłaty {amount} zł. Dziękujemy!",
        "Kurier dostarczy przesyłkę w {city} dziś między {h1}:00 a {h2}:00. Miłego dnia, {name}!",
        "Twój kod weryfikacyjny to {code6}. Nie udostępniaj go nikomu.",
        "{name}, przypominamy o wizycie w {shop} jutro o {h1}:30. Odpowiedz STOP, aby zrezygnować.",
    ],
    "pt": [
        "Olá {name}! O seu pedido nº {order} da {shop} foi enviado. Acompanhe: https://trk.example/{code}",
        "{shop}: pedido {order} confirmado. Total R$ {amount}. Obrigado pela preferência!",
        "A sua encomenda chega hoje em {city} entre as {h1}h e as {h2}h. Até já, {name}!",
        "O seu código de verificação é {code6}. Não o partilhe com ninguém.",
        "{name}, lembrete: a sua marcação na {shop} é amanhã às {h1}h30. Responda STOP para sair.",
    ],
}
LONG_TAIL = {
    "en": " Items: {items}. Delivery notes: leave the parcel with the neighbour if nobody is home;"
          " returns are free within 30 days at any of our stores or by post.",
    "pl": " Produkty: {items}. Uwagi: w razie nieobecności zostaw paczkę u sąsiada; zwroty są"
          " bezpłatne przez 30 dni w każdym sklepie lub pocztą.",
    "pt": " Artigos: {items}. Notas: se não estiver ninguém, deixe a encomenda com o vizinho; as"
          " devoluções são gratuitas durante 30 dias em qualquer loja ou pelo correio.",
}
ITEMS = ["T-shirt (M)", "Coffee beans 1kg", "Bike light", "Notebook A5", "Kubek", "Caneca",
         "Herbata zielona", "Sabonete", "Socks x3", "Plecak"]


def build_messages(count: int, seed: int = 20240917) -> list[str]:
    rng = random.Random(seed)
    messages = []
    for _ in range(count):
        lang = rng.choices(["en", "pl", "pt"], weights=[5, 3, 3])[0]
        text = rng.choice(TEMPLATES[lang]).format(
            name=rng.choice(FIRST_NAMES[lang]),
            shop=rng.choice(SHOPS),
            city=rng.choice(CITIES[lang]),
            order=rng.randint(1000, 999999),
            amount=f"{rng.randint(5, 2500)},{rng.randint(0, 99):02d}",
            amount_en=f"{rng.randint(5, 2500)}.{rng.randint(0, 99):02d}",
            code=f"{rng.getrandbits(40):010x}",
            code6=f"{rng.randint(0, 999999):06d}",
            h1=rng.randint(8, 14),
            h2=rng.randint(15, 20),
            pct=rng.choice([10, 15, 20, 25]),
        )
        if rng.random() < 0.15:
            text += LONG_TAIL[lang].format(items=", ".join(rng.sample(ITEMS, rng.randint(2, 5))))
        if rng.random() < 0.12:
            text += " " + rng.choice(EMOJI)
        if rng.random() < 0.03:
            text = text.replace(" ", "\r\n", 1)
        messages.append(text)
    return messages


def time_once(messages: list[str]) -> float:
    info = segment_info
    started = time.perf_counter()
    for text in messages:
        info(text)
    return time.perf_counter() - started


def cold_rate(messages: list[str], repeat: int) -> float:
    """Texts/s with the analysis cache turned off: every text analysed from scratch."""
    # The size is a global of the module that reads it, not of the package.
    saved = segments._ANALYSIS_CACHE_SIZE
    segments._ANALYSIS_CACHE_SIZE = 0
    segments._ANALYSIS_CACHE.clear()
    try:
        return len(messages) / min(time_once(messages) for _ in range(repeat))
    finally:
        segments._ANALYSIS_CACHE_SIZE = saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    messages = build_messages(args.count)
    mix = Counter((i.encoding, i.segments) for i in map(segment_info, messages))
    print(f"{len(messages)} messages: " + ", ".join(
        f"{enc} x{segs}: {n}" for (enc, segs), n in sorted(mix.items())))

    best = min(time_once(messages) for _ in range(args.repeat))
    rate = len(messages) / best
    print(f"segment_info: {rate:,.0f} texts/s ({best * 1e6 / len(messages):.2f} us/text, "
          f"best of {args.repeat})")
    print(f"  analysis cache: {len(segments._ANALYSIS_CACHE)} entries for the odd characters "
          f"of {args.count:,} texts")
    cold = cold_rate(messages, args.repeat)
    # The naive approach: every text analysed from scratch (no cache of its odd characters).
    passed = record("segment_info", figure=rate, unit="texts/s", target=TARGET_PER_SECOND, naive=cold,
                    notes=f"{len(messages):,} order texts in en/pl/pt, one core; naive = without the analysis cache")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
