"""Print a greeting and the versions of the packages this variant ships with."""

from importlib import metadata

from pydantic import BaseModel
from rich.console import Console


class Greeting(BaseModel):
    name: str
    packages: dict[str, str]


def main() -> None:
    wanted = ["httpx", "pydantic", "rich", "numpy", "pandas", "pytest"]
    found = {}
    for name in wanted:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    Console().print(Greeting(name="demo", packages=found).model_dump_json(indent=2))


if __name__ == "__main__":
    main()
