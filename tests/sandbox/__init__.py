"""Tests of ttai_notebook.sandbox (a package, so module names do not clash with other test folders)."""
