from greeting import hello
from tinycolor import paint

print(paint(hello("fast-build"), "blue"))
