#!/usr/bin/env python3
"""Rebuilds the bundled fallback fonts (assets/fonts/CairnFallback*.ttf).

Needs Debian's python3-fonttools, fonts-droid-fallback, fonts-nanum and
fonts-dejavu-core. Run with the system Python: /usr/bin/python3 make_subsets.py

The character sets are the common ones of each script, from the national
standards Python's codecs carry: GB2312 (simplified Chinese), Big5 level 1
(traditional Chinese), JIS X 0208 (Japanese), KS X 1001 (Korean: the 2,350
common Hangul syllables), plus kana, CJK punctuation and full-width forms;
Hebrew and Arabic whole. Subsets are modified fonts: each is renamed
"Cairn Fallback ..." (the Nanum licence reserves its name, Droid is a
trademark), under its original licence (LICENSE-* and COPYRIGHT-* here).
"""
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

HERE = Path(__file__).resolve().parent


def double_byte(codec, leads, trails):
    out = set()
    for hi in leads:
        for lo in trails:
            try:
                out.update(bytes([hi, lo]).decode(codec))
            except UnicodeDecodeError:
                pass
    return out


def common_cjk():
    chars = set()
    euc = range(0xA1, 0xFF)
    chars |= double_byte("gb2312", range(0xA1, 0xF8), euc)
    chars |= double_byte("euc_jp", range(0xA1, 0xF5), euc)
    chars |= double_byte("euc_kr", range(0xA1, 0xFF), euc)
    chars |= double_byte("big5", range(0xA4, 0xC7), list(range(0x40, 0x7F)) + list(euc))
    for a, b in [(0x3000, 0x303F), (0x3040, 0x309F), (0x30A0, 0x30FF), (0x3130, 0x318F),
                 (0x1100, 0x11FF), (0xFF00, 0xFFEF), (0x31F0, 0x31FF)]:
        chars.update(chr(c) for c in range(a, b + 1))
    return {c for c in chars if ord(c) >= 0x1100}


def is_hangul(c):
    o = ord(c)
    return 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F


def make(source, output, family, text=None, unicodes=None):
    options = subset.Options()
    options.layout_features = ["*"]
    options.hinting = False
    font = subset.load_font(source, options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text or "", unicodes=unicodes or [])
    subsetter.subset(font)
    postscript = family.replace(" ", "") + "-Regular"
    for record in font["name"].names:
        if record.nameID in (1, 16):
            record.string = family
        elif record.nameID in (2, 17):
            record.string = "Regular"
        elif record.nameID == 3:
            record.string = postscript + " (subset for Cairn)"
        elif record.nameID == 4:
            record.string = family + " Regular"
        elif record.nameID == 6:
            record.string = postscript
    font.save(HERE / output)
    print(output, len(TTFont(HERE / output).getBestCmap()), "characters")


cjk = common_cjk()
hangul = "".join(sorted(c for c in cjk if is_hangul(c)))
han = "".join(sorted(c for c in cjk if not is_hangul(c)))
make("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", "CairnFallbackCJK.ttf",
     "Cairn Fallback CJK", text=han)
make("/usr/share/fonts/truetype/nanum/NanumGothic.ttf", "CairnFallbackHangul.ttf",
     "Cairn Fallback Hangul", text=hangul)
rtl = [c for a, b in [(0x0590, 0x05FF), (0x0600, 0x06FF), (0x0750, 0x077F), (0xFB1D, 0xFB4F),
                      (0xFB50, 0xFDFF), (0xFE70, 0xFEFF), (0x200C, 0x200F)] for c in range(a, b + 1)]
make("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "CairnFallbackRTL.ttf",
     "Cairn Fallback RTL", unicodes=rtl)
