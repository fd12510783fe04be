"""Writes realworld/: ill-formed feeds of the kinds found in the wild, each a few hundred bytes.

.venv/bin/python tests/feeds_corpus/make_realworld.py
"""

from pathlib import Path

HERE = Path(__file__).parent / "realworld"
RUSSIAN = "Как пережить новогоднюю ночь: советы и рецепты"

FEEDS: dict[str, bytes | str] = {
    "html-entities.xml": """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Caf&eacute; news&nbsp;&mdash; daily</title><link>https://cafe.example.org/</link>
<item><title>Caf&eacute; opens&nbsp;today &ndash; &laquo;finally&raquo;</title><link>https://cafe.example.org/opens</link>
<description>We&rsquo;re open &hellip; come by.</description><pubDate>Mon, 06 Nov 2023 09:00:00 GMT</pubDate></item>
<item><title>Menu &amp; prices</title><link>https://cafe.example.org/menu</link><description>&copy; 2023</description></item>
</channel></rss>
""",
    "bare-ampersands.xml": """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Shop & more</title><link>https://shop.example.org/</link>
<item><title>Sale: shoes & bags</title><link>https://shop.example.org/?p=1&utm_source=rss&utm_medium=feed</link>
<description>Up to 50% off & free shipping</description></item>
<item><title>Returns policy</title><link>https://shop.example.org/?p=2&utm_source=rss</link></item>
</channel></rss>
""",
    "koi8r-undeclared.xml": f"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Новости дня</title><link>https://ru.example.org/</link>
<item><title>{RUSSIAN}</title><link>https://ru.example.org/1</link>
<description>Главное в праздники - не переедать и хорошо выспаться перед работой. Подробности в статье.</description></item>
<item><title>Погода на выходные</title><link>https://ru.example.org/2</link>
<description>Синоптики обещают снег и мороз до минус двадцати градусов в столице и области.</description></item>
</channel></rss>
""".encode("koi8-r"),
    "cp1252-declared-utf8.xml": """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>It’s a blog</title><link>https://blog.example.org/</link>
<item><title>“Quoted” – and it’s fine…</title><link>https://blog.example.org/q</link>
<description>Smart quotes from Word — pasted as is.</description></item>
</channel></rss>
""".encode("cp1252"),
    "latin1-declared-with-windows-quotes.xml": """<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="2.0"><channel><title>Le café</title><link>https://fr.example.org/</link>
<item><title>L’été à Paris – « enfin »</title><link>https://fr.example.org/ete</link><description>Très chaud.</description></item>
</channel></rss>
""".encode("cp1252"),
    "truncated.xml": """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Cut off</title><link>https://cut.example.org/</link>
<item><title>First complete item</title><link>https://cut.example.org/1</link><description>One.</description></item>
<item><title>Second complete item</title><link>https://cut.example.org/2</link><description>Two.</description></item>
<item><title>Third item, cut</title><link>https://cut.example.org/3</link><description>Thr""",
    "atom-xml-base-relative.xml": """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://atom.example.org/blog/">
<title>Relative Atom</title><id>urn:x</id><updated>2023-11-06T09:00:00Z</updated>
<link rel="alternate" href="/"/>
<entry><title>Relative entry</title><id>urn:x:1</id><updated>2023-11-06T09:00:00Z</updated>
<link rel="alternate" href="posts/1.html"/>
<content type="html">&lt;p&gt;See &lt;a href="../about.html"&gt;about&lt;/a&gt;.&lt;/p&gt;</content></entry>
</feed>
""",
    "rss-site-link-relative.xml": """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Site link</title><link>https://site.example.org/news/</link>
<item><title>Relative to the site</title><link>2023/11/item.html</link>
<description>&lt;a href="/contact"&gt;Contact&lt;/a&gt; &lt;a href="#top"&gt;top&lt;/a&gt;</description></item>
</channel></rss>
""",
    "items-without-titles.xml": """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Microblog</title><link>https://micro.example.org/</link>
<item><description>Just shipped the new release. It fixes the sync bug many of you reported last week, thanks all!</description><link>https://micro.example.org/1</link></item>
<item><description>&lt;p&gt;Short &lt;b&gt;note&lt;/b&gt;.&lt;/p&gt;</description><guid>https://micro.example.org/2</guid></item>
</channel></rss>
""",
    "control-characters.xml": '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Ctl'
    "</title><link>https://ctl.example.org/</link>\n<item><title>Bell\x07 and escape\x1b[31m inside</title>"
    "<link>https://ctl.example.org/1</link><description>Form\x0cfeed \u0085next.</description></item>\n"
    "</channel></rss>\n",
    "whitespace-before-declaration.xml": '\n\n  <?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">'
    "<channel><title>WP</title><link>https://wp.example.org/</link>\n<item><title>Blank lines before the "
    "declaration</title><link>https://wp.example.org/1</link></item>\n</channel></rss>\n",
    "utf16-bom.xml": '\ufeff<?xml version="1.0" encoding="utf-16"?>\n<rss version="2.0"><channel><title>UTF-16'
    "</title><link>https://u16.example.org/</link>\n<item><title>Zoë’s UTF-16 item</title>"
    "<link>https://u16.example.org/1</link></item>\n</channel></rss>\n".encode("utf-16-le"),
    "html-in-cdata-title.xml": """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>CDATA</title><link>https://cd.example.org/</link>
<item><title><![CDATA[<b>Bold</b> & <i>italic</i> title]]></title><link>https://cd.example.org/1</link>
<description><![CDATA[<p>Para with <script>alert(1)</script> a script.</p>]]></description></item>
</channel></rss>
""",
    "undeclared-namespace-prefix.xml": """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>NS</title><link>https://ns.example.org/</link>
<item><title>Uses dc:creator without declaring dc</title><dc:creator>Ana</dc:creator><link>https://ns.example.org/1</link></item>
</channel></rss>
""",
    "mismatched-tags.xml": """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Tags</title><link>https://tags.example.org/</link>
<item><title>Unclosed bold in description</title><link>https://tags.example.org/1</link><description><b>bold</description></item>
<item><title>Next item still read</title><link>https://tags.example.org/2</link></item>
</channel></rss>
""",
}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, content in FEEDS.items():
        (HERE / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


if __name__ == "__main__":
    main()
