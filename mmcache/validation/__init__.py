"""Input checks shared by the command line, the evaluation runner and the demo: argparse value types
(``arg_types``) and checks of devices and output paths made before any model loads (``checks``)."""
