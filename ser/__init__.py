"""Speech emotion recognition workbench: the engine behind the Streamlit pages and the CLI.

The engine never imports streamlit; every page and every CLI command calls these modules.
"""

__version__ = "0.1.0"
