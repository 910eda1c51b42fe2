"""The Rasa side of Tổng đài 1022. Importing this package must never import rasa: the app's
Python 3.11 environment imports `nlu.client`."""
