"""``flytekit.types.file``: ``FlyteFile`` and its format-named forms (``CSVFile`` is
``FlyteFile[TypeVar("csv")]`` in flytekit, which is ``FlyteFile`` here)."""

from airfoil.compat.flytekit._types import FlyteFile

CSVFile = FlyteFile
HDF5EncodedFile = FlyteFile
HTMLPage = FlyteFile
JoblibSerializedFile = FlyteFile
JPEGImageFile = FlyteFile
JSONLFile = FlyteFile
ONNXFile = FlyteFile
PDFFile = FlyteFile
PNGImageFile = FlyteFile
PythonNotebook = FlyteFile
PythonPickledFile = FlyteFile
SVGImageFile = FlyteFile
TFRecordFile = FlyteFile

__all__ = [
    "CSVFile",
    "FlyteFile",
    "HDF5EncodedFile",
    "HTMLPage",
    "JPEGImageFile",
    "JSONLFile",
    "JoblibSerializedFile",
    "ONNXFile",
    "PDFFile",
    "PNGImageFile",
    "PythonNotebook",
    "PythonPickledFile",
    "SVGImageFile",
    "TFRecordFile",
]
