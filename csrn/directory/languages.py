"""ISO 639 language codes the directory offers, with their English names."""

LANGUAGES = {
    "en": "English", "es": "Spanish", "vi": "Vietnamese", "zh": "Chinese (Mandarin)", "yue": "Chinese (Cantonese)",
    "tl": "Tagalog", "ar": "Arabic", "fr": "French", "ht": "Haitian Creole", "ko": "Korean", "ru": "Russian",
    "uk": "Ukrainian", "pt": "Portuguese", "hi": "Hindi", "ur": "Urdu", "bn": "Bengali", "pa": "Punjabi",
    "gu": "Gujarati", "ne": "Nepali", "th": "Thai", "km": "Khmer", "lo": "Lao", "my": "Burmese", "hmn": "Hmong",
    "id": "Indonesian", "ms": "Malay", "ja": "Japanese", "fa": "Persian (Farsi)", "prs": "Dari", "ps": "Pashto",
    "tr": "Turkish", "ku": "Kurdish", "am": "Amharic", "ti": "Tigrinya", "so": "Somali", "sw": "Swahili",
    "om": "Oromo", "yo": "Yoruba", "ig": "Igbo", "ha": "Hausa", "wo": "Wolof", "ff": "Fula", "ln": "Lingala",
    "rw": "Kinyarwanda", "pl": "Polish", "ro": "Romanian", "bg": "Bulgarian", "sq": "Albanian", "sr": "Serbian",
    "hr": "Croatian", "bs": "Bosnian", "el": "Greek", "it": "Italian", "de": "German", "he": "Hebrew",
    "hy": "Armenian", "ka": "Georgian", "uz": "Uzbek", "kk": "Kazakh", "mn": "Mongolian", "quc": "K'iche'",
    "mam": "Mam", "qu": "Quechua", "nah": "Nahuatl", "ase": "American Sign Language",
}


def language_name(code: str) -> str:
    """The English name of a language code (the code itself when unknown)."""
    return LANGUAGES.get(code, code)


def language_choices() -> list[tuple[str, str]]:
    """(code, name) pairs in name order, English first."""
    return [("en", "English")] + sorted(
        ((code, name) for code, name in LANGUAGES.items() if code != "en"), key=lambda pair: pair[1]
    )
