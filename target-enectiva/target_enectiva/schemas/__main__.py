"""``python -m target_enectiva.schemas``: regenerate the record schema files."""

from target_enectiva.schemas import write_all

if __name__ == "__main__":
    for path in write_all():
        print(path)
