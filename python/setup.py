"""Records the checkout this package was installed from, so that `widenet` finds its release build."""
import json
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildWithCheckout(build_py):
    def run(self):
        super().run()
        root = os.path.dirname(HERE)
        if os.path.exists(os.path.join(root, "Package.swift")):
            target = os.path.join(self.build_lib, "widenet", "_checkout.json")
            with open(target, "w") as f:
                json.dump({"root": root}, f)


setup(cmdclass={"build_py": BuildWithCheckout})
