from ... import resources
