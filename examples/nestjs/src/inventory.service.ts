import { HttpStatus, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Item } from 'sagactl';
import { ApiError } from './api-error';
import { KnownIds } from './known-ids';

/** The gate for items: an unknown item is refused before a saga exists; stock and availability are the saga's decision. */
@Injectable()
export class InventoryService {
  private readonly known = new KnownIds();

  constructor(@InjectRepository(Item) private readonly items: Repository<Item>) {}

  async validateItem(itemId: string): Promise<void> {
    if (!(await this.known.check(itemId, (id) => this.items.existsBy({ itemId: id })))) {
      throw new ApiError(HttpStatus.NOT_FOUND, 'ITEM_NOT_FOUND', `No item "${itemId}".`);
    }
  }
}
