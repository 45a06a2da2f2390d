"""The web page (HTML, JavaScript, CSS) and the CPython tools that build and serve it as a static site."""
