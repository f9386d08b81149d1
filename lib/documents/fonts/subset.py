"""Writes the two fonts of `kopek-documents` — DejaVu Sans Condensed, regular and bold — cut
to the scripts Kopek's work sheets print, from the `dejavu` crate's full fonts.

The full fonts are 1.3 MB together (about 0.75 MB of every zip that links the work sheet);
these cuts keep every character of `RANGES` the font has, its metrics and its character map,
and drop the other scripts, the hinting (a PDF viewer does not use it) and the layout tables
(the work sheet neither kerns nor shapes). `kopek-documents`' test
`the_cut_fonts_keep_every_character_of_their_ranges` checks the result against the full fonts.

Run it again after a change of `RANGES` or of the `dejavu` crate's version:

    .venv/bin/pip install fonttools==4.66.1
    .venv/bin/python lib/documents/fonts/subset.py
"""

import glob
import os

from fontTools import subset

# Latin (with the extended letters of European languages and Vietnamese), combining marks,
# Greek, Cyrillic with its supplement (every language written in it), punctuation, super- and
# subscripts, currency signs, letterlike symbols (№, ™), number forms, arrows, mathematical
# operators, box drawing, geometric shapes, the check marks and crosses (✓, ✗), and the replacement character.
RANGES = [
    (0x0020, 0x007E),
    (0x00A0, 0x024F),
    (0x0300, 0x036F),
    (0x0370, 0x03FF),
    (0x0400, 0x052F),
    (0x1E00, 0x1EFF),
    (0x2000, 0x206F),
    (0x2070, 0x209F),
    (0x20A0, 0x20CF),
    (0x2100, 0x214F),
    (0x2150, 0x218F),
    (0x2190, 0x21FF),
    (0x2200, 0x22FF),
    (0x2500, 0x257F),
    (0x25A0, 0x25FF),
    (0x2713, 0x2718),
    (0xFFFD, 0xFFFD),
]

FONTS = {
    "DejaVuSansCondensed.ttf": "DejaVuSansCondensed.ttf",
    "DejaVuSansCondensed-Bold.ttf": "DejaVuSansCondensed-Bold.ttf",
}


def full_fonts_dir():
    registry = os.path.expanduser("~/.cargo/registry/src")
    found = sorted(glob.glob(f"{registry}/*/dejavu-2.37.0/assets/dejavu-fonts-ttf-2.37/ttf"))
    if not found:
        raise SystemExit("the dejavu 2.37.0 crate is not in the cargo registry: run `cargo fetch`")
    return found[0]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    source = full_fonts_dir()
    options = subset.Options()
    options.hinting = False
    options.layout_features = []
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.glyph_names = False
    unicodes = [c for low, high in RANGES for c in range(low, high + 1)]
    for name, out in FONTS.items():
        font = subset.load_font(os.path.join(source, name), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=unicodes)
        subsetter.subset(font)
        path = os.path.join(here, out)
        subset.save_font(font, path, options)
        print(f"{out}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
